"""The runtime's internals, in dependency order.

``protocol`` (wire facts) ← ``http``/``transport*`` (bytes on sockets) ← ``client``
(Runtime API calls) ← ``codec``/``context``/``errors``/``handler``/``logs``/``config``
← ``invocation`` (one invocation) ← ``runtime`` (the loop) ← ``bootstrap`` (the process).
Nothing here imports the emulator, the CLI or the layer builder.
"""
