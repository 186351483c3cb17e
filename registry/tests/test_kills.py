"""A sample of the SIGKILL trials of vml_testkit.kills: 20 per write command (see that module)."""

import os

import pytest

from vml_testkit.kills import COMMANDS, run, table

pytestmark = [pytest.mark.kills, pytest.mark.slow]

KILLS = int(os.environ.get("REGISTRY_KILLS", "20"))


@pytest.fixture(scope="module")
def tallies(tmp_path_factory):
    return run(KILLS, seed=int(os.environ.get("REGISTRY_KILL_SEED", "0")), scratch=tmp_path_factory.mktemp("kills"))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_killed_command_leaves_all_of_its_tags_or_none_and_blocks_nothing(tallies, command):
    tally = tallies[command]
    print(table({command: tally}))
    assert tally.kills == KILLS
    assert tally.partial == []
    assert tally.blocked == []
    assert tally.locks_left == 0
    assert tally.none + tally.whole == KILLS


def test_a_killed_signed_promote_leaves_all_of_its_tags_or_none_and_blocks_nothing(tmp_path):
    tally = run(KILLS, commands=("promote",), seed=1, scratch=tmp_path, signed=True)["promote"]
    print(table({"signed promote": tally}))
    assert tally.kills == KILLS
    assert (tally.partial, tally.blocked, tally.locks_left) == ([], [], 0)
    assert tally.none + tally.whole == KILLS and tally.whole > 0
