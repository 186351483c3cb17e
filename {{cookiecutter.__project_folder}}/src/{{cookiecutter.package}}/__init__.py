{#- A Python string literal: answers are one line without control characters (pre_gen), so
    escaping \ and " is complete, and no answer can close the string and become code. -#}
"{{ (cookiecutter.project_name ~ ': ' ~ cookiecutter.description) | replace('\\', '\\\\') | replace('"', '\\"') }}"
