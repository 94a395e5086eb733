"""`python -m emulator` is the `messaging-auth-emulator` command."""

from .cli import main

raise SystemExit(main())
