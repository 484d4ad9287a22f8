"""Shared by every test folder: pytest puts this folder on ``sys.path``, so that tests in subfolders
(``tests/runs/``) import the helpers here (``_proc``, ``_markdown``) as the top-level ones do."""
