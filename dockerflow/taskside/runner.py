"""The py> runner: runs inside the task's process (host or container), never imports the engine.

    python3 runner.py INPUT.json OUTPUT.json

Reads the command and params, imports the user's module from the working directory, calls the
function (arguments filled by name from params), and writes store/export/subtask_config or the
error to OUTPUT.json. Kept compatible with old Python 3 versions found in images.
"""

import inspect
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


class MissingParameter(Exception):
    pass


class ModuleNameClash(Exception):
    """The command's module is the project's, but its name is a standard library module's."""


def is_stdlib(name):
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return name in names
    if name in sys.builtin_module_names:
        return True
    import importlib.machinery
    import sysconfig
    dirs = []
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path and path not in dirs:
            dirs.extend([path, os.path.join(path, "lib-dynload")])
    return importlib.machinery.PathFinder.find_spec(name, dirs) is not None


def check_module_name(command, folder):
    """Refuse `py>: tokenize.main` when the project has a tokenize.py: the standard library's
    tokenize may be imported already (or first), and would be called instead of the project's."""
    top = command.split(".")[0]
    if os.path.isfile(os.path.join(folder, top + ".py")):
        mine = top + ".py"
    elif os.path.isfile(os.path.join(folder, top, "__init__.py")):
        mine = top + "/"
    else:
        return
    if is_stdlib(top):
        raise ModuleNameClash(
            "py> %s: the project's %s has the name of a standard library module, and Python"
            " may load the standard one instead (duplicate module name with standard library):"
            " rename %s" % (command, mine, mine))


def fill_args(func, params, what):
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return [], {}
    kwargs = {}
    for name, p in sig.parameters.items():
        if p.kind == p.VAR_KEYWORD:
            for k, v in params.items():
                kwargs.setdefault(k, v)
        elif p.kind == p.VAR_POSITIONAL:
            continue
        elif name in params:
            kwargs[name] = params[name]
        elif p.default is p.empty:
            raise MissingParameter("Method '%s' requires parameter '%s' but not set" % (what, name))
    return [], kwargs


def resolve(command):
    """Import the longest importable module prefix of `command`; return (module, attrs)."""
    import importlib
    parts = command.split(".")
    last_error = None
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i])
        try:
            return importlib.import_module(name), parts[i:]
        except ModuleNotFoundError as e:
            if e.name is not None and not name.startswith(e.name) and e.name != name:
                raise
            last_error = e
    raise last_error or ImportError("can't import %r" % command)


def call(command, params):
    module, attrs = resolve(command)
    obj = module
    owner = None
    for attr in attrs:
        owner = obj
        obj = getattr(obj, attr)
    if inspect.isclass(obj):
        args, kwargs = fill_args(obj, params, obj.__name__)
        instance = obj(*args, **kwargs)
        method = getattr(instance, "run")
        args, kwargs = fill_args(method, params, obj.__name__ + ".run")
        return method(*args, **kwargs)
    if inspect.isclass(owner):
        args, kwargs = fill_args(owner, params, owner.__name__)
        instance = owner(*args, **kwargs)
        method = getattr(instance, attrs[-1])
        args, kwargs = fill_args(method, params, attrs[-1])
        return method(*args, **kwargs)
    args, kwargs = fill_args(obj, params, attrs[-1])
    return obj(*args, **kwargs)


def main(argv):
    in_path, out_path = argv[1], argv[2]
    with open(in_path) as f:
        data = json.load(f)
    sys.path.insert(0, os.path.join(HERE, "pylib"))
    sys.path.insert(1, os.getcwd())
    import digdag  # the task API, also importable as dockerflow
    digdag.env._reset(data["params"])
    result = {}
    code = 0
    try:
        check_module_name(data["command"], os.getcwd())
        call(data["command"], data["params"])
    except (MissingParameter, ModuleNameClash, ImportError) as e:  # the user's setup, not their code: no traceback
        code = 1
        sys.stderr.write("%s: %s\n" % (type(e).__name__, e))
        result["error"] = {"message": str(e), "class": type(e).__name__}
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) and e.code else 1
        result["error"] = {"message": "the task called sys.exit(%r); if you did not, a module"
                                      " name may clash with the standard library" % (e.code,),
                           "class": "SystemExit"}
    except BaseException as e:  # report every failure to the engine
        code = 1
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # show the user's frames, not the runner's
        traceback.print_exception(type(e), e, tb)
        result["error"] = {"message": str(e), "class": type(e).__name__,
                           "stacktrace": traceback.format_exc()}
    result.update(digdag.env._result())
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, default=str)
    os.replace(tmp, out_path)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
