import gc

# The imports make tens of thousands of objects and almost no garbage: the collector's passes
# over them are about a tenth of the start's CPU time. It runs again from the first line of
# the command on (the daemon then freezes the heap once it serves: runtime/gcpolicy.py).
gc.disable()
from minikubelet.cli import main  # noqa: E402

gc.enable()
raise SystemExit(main())
