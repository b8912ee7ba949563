"""The CLI's nouns, one module each (`preau <noun> <verb>`).

Each command imports what it works with (the model, the sources, pyinfra, rich...) inside its
function, and types used only in annotations come under TYPE_CHECKING: `preau --help` builds
every command but runs none, so it imports none of that (tests/unit/test_cli_imports.py).
"""
