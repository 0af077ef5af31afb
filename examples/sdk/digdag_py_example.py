# ruff: noqa: E501, UP032  (the README's code, kept as written)
"""digdag-py's README "Complex Example", run through dockerflow.sdk.compat.

Two changes to the README's code, both marked `# dockerflow:` below:
  1. the import line (`digdagpy.dig.models` -> `dockerflow.sdk.compat`, plus `NamedTask`
     and `Project`, which the README uses without importing);
  2. a `project = Project(...)` line, which the README uses without defining.

    python digdag_py_example.py OUTDIR     # writes process-task-*.dig into OUTDIR
"""

# dockerflow: was `from digdagpy.dig.models import Workflow, WorkflowSchedule, CommandTask, ErrorTask`
from dockerflow.sdk.compat import (
    CommandTask,
    ErrorTask,
    NamedTask,
    Project,
    Workflow,
    WorkflowSchedule,
)

project = Project(name="feeds")  # dockerflow: the README never defines `project`

feed_options = (
    "first_task",
    "second_special_task",
    "third_task",
)

for hour_offset, task_name in enumerate(feed_options):
    start_hour_adjusted = 24 - len(feed_options) + hour_offset - 1

    schedule = WorkflowSchedule(
        daily="{}:00:00".format(start_hour_adjusted),
        skip_delayed_by=1,
    )

    if task_name == "second_special_task":
        tasks: list[NamedTask] = [
            CommandTask(
                name="process-special-task",
                command=f"python main.py create {task_name} --save",
            )
        ]

        upload_task = NamedTask(name="upload")

        for destination in (
            "int",
            "stg",
            "prod",
        ):
            upload_task.add_task(
                NamedTask(
                    name=destination,
                    tasks=[
                        CommandTask(
                            name="upload",
                            command=f"python main.py upload {task_name} --source-env prod --destination-env {destination}",
                        ),
                        CommandTask(
                            name="implicit-special-task",
                            command=f"python main.py implicit-task --source-env prod --destination-env {destination}",
                        ),
                    ],
                )
            )

        tasks.append(upload_task)
    else:
        tasks: list[NamedTask] = [  # type: ignore[no-redef]
            CommandTask(
                name="create",
                command=f"python main.py create {task_name} --save",
            ),
            NamedTask(
                name="upload",
                tasks=[
                    CommandTask(
                        name=destination,
                        command=f"python main.py upload {task_name} --source-env prod --destination-env {destination}",
                    )
                    for destination in (
                        "int",
                        "stg",
                        "prod",
                    )
                ],
            ),
        ]


    tasks.insert(
        0,
        CommandTask(
            name="lock-deployment",
            command=f"python main.py lock-deployment {task_name}",
        ),
    )

    tasks.append(
        CommandTask(
            name="unlock-deployment",
            command=f"python main.py unlock-deployment {task_name}",
        ),
    )

    project.add_workflow(
        Workflow(
            name=f"process-task-{task_name}",
            tasks=tasks,
            schedule=schedule,
            error=ErrorTask(
                command=f"python main.py unlock-deployment {task_name}",
            ),
        )
    )

if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python digdag_py_example.py OUTDIR")
    for path in project.write(sys.argv[1]):
        print("wrote", path)
