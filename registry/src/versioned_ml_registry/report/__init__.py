"""What people read: the HTML report, its charts, release notes and terminal lines."""
