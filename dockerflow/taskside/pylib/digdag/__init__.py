"""The task API for py> tasks (`import digdag` or `import dockerflow`).

    digdag.env.params            every parameter of the task
    digdag.env.store(d, **kw)    params for later tasks
    digdag.env.export(d, **kw)   params for this task's generated children
    digdag.env.add_subtask(f_or_config, **kw)
    digdag.env.subtask_config    the generated children (editable, e.g. "_parallel")
"""

import json


def _merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def _check_json(value, what):
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError("%s must be JSON-serializable: %s" % (what, e))


class Env(object):
    def __init__(self):
        self._reset({})

    def _reset(self, params):
        self.params = params
        self.state_params = {}
        self.subtask_config = {}
        self.subtask_index = 0
        self._store = {}
        self._export = {}

    def store(self, params=None, **kwargs):
        data = dict(params or {}, **kwargs)
        _check_json(data, "stored params")
        _merge(self._store, data)

    def export(self, params=None, **kwargs):
        data = dict(params or {}, **kwargs)
        _check_json(data, "exported params")
        _merge(self._export, data)

    def add_subtask(self, function=None, **params):
        if function is None:
            config = dict(params)
        elif isinstance(function, dict):
            config = dict(function)
            config.update(params)
        elif callable(function):
            name = getattr(function, "__qualname__", function.__name__)
            config = dict(params)
            config["py>"] = "%s.%s" % (function.__module__, name)
        else:
            raise TypeError("add_subtask takes a function or a dict of task config")
        _check_json(config, "subtask config")
        self.subtask_config["+subtask%d" % self.subtask_index] = config
        self.subtask_index += 1

    def _result(self):
        out = {"store": self._store, "export": self._export}
        if self.subtask_config:
            out["subtask_config"] = self.subtask_config
        return out


env = Env()
