import gc, os, runpy, sys, threading
mode = os.environ.get("GCMODE", "off")
if mode == "off":
    gc.disable()
elif mode == "freeze":
    def later():
        gc.collect(); gc.freeze()
    threading.Timer(1.0, later).start()
script = sys.argv[1]; sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
