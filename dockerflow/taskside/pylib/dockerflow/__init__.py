"""Inside a py> task, `import dockerflow` gives the same task API as `import digdag`."""

import digdag
from digdag import env

__all__ = ["env", "digdag"]
