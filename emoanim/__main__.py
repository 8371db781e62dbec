import gc

from emoanim.cli import main

code = main()
# Nothing is left to collect, but the interpreter's final collections would still walk every object
# torch and the models made (~0.2 s of a 5 s command): freeze them out of its way.
gc.freeze()
raise SystemExit(code)
