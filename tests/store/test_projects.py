"""Projects, revisions and workflow definitions in the Store contract, run against SQLite and
PostgreSQL like tests/store/test_contract.py (a second store stands for another process)."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from dockerflow.errors import DockerflowError
from dockerflow.store import (
    ProjectRecord,
    RevisionExists,
    RevisionRecord,
    Store,
    WorkflowRecord,
)

ARCHIVE = b"\x1f\x8b pretend this is a tar.gz"


def push(store: Store, project: str, revision: str, *workflows: str,
         archive: bytes = ARCHIVE) -> tuple[ProjectRecord, RevisionRecord]:
    return store.put_revision(project, revision, archive,
                              [(name, "UTC", {"+step": {"echo>": name}}) for name in workflows])


# -- pushing -----------------------------------------------------------------------------------
def test_a_push_makes_the_project_its_revision_archive_and_workflows(store: Store, other: Store) -> None:
    before = time.time()
    project, revision = store.put_revision(
        "proj", "r1", ARCHIVE, [("daily", "Asia/Tokyo", {"timezone": "Asia/Tokyo", "+a": {"sh>": "x"}}),
                                ("hourly", "UTC", {})],
        user_info={"pushed_by": "me", "n": 1, "at": datetime(2024, 1, 1)})
    assert (project.name, project.deleted_at) == ("proj", None)
    assert before - 1 <= project.created_at <= time.time() + 1
    assert project.updated_at == revision.created_at >= project.created_at
    assert (revision.project_id, revision.name) == (project.id, "r1")
    assert revision.user_info == {"pushed_by": "me", "n": 1, "at": "2024-01-01 00:00:00"}  # as stored, JSON
    assert revision.archive_digest == hashlib.sha256(ARCHIVE).hexdigest()
    assert revision.archive_md5 == base64.b64encode(hashlib.md5(ARCHIVE).digest()).decode()
    assert other.get_archive(revision.archive_digest) == ARCHIVE
    assert other.project(project.id) == project
    assert other.live_project("proj") == project
    assert other.live_project("nothing") is None
    assert other.revision(project.id) == revision
    assert other.revision(project.id, "r1") == revision
    assert other.revision(project.id, "r2") is None
    assert other.revisions(project.id) == [revision]
    daily, hourly = other.workflows_of(revision.id)
    assert daily == WorkflowRecord(daily.id, project.id, revision.id, "r1", "daily", "Asia/Tokyo",
                                   {"timezone": "Asia/Tokyo", "+a": {"sh>": "x"}})
    assert (hourly.name, hourly.timezone, hourly.config, hourly.revision) == ("hourly", "UTC", {}, "r1")
    assert daily.id < hourly.id
    assert other.workflows_of(revision.id, "hourly") == [hourly]
    assert other.workflows_of(revision.id, "weekly") == []
    assert other.workflow_definition(daily.id) == daily
    assert other.workflow_definition(hourly.id + 1000) is None
    assert other.project(project.id + 1000) is None


def test_the_md5_is_digdags_archive_md5(store: Store) -> None:
    _, revision = push(store, "proj", "r1", archive=b"")
    assert revision.archive_md5 == "1B2M2Y8AsgTpgAmY7PhCfg=="  # md5 of no bytes, base64
    assert store.get_archive(revision.archive_digest) == b""
    assert store.workflows_of(revision.id) == []


def test_a_second_push_is_a_new_revision_of_the_same_project(store: Store, other: Store) -> None:
    first_project, first = push(store, "proj", "r1", "a", "b")
    time.sleep(0.01)
    project, second = push(other, "proj", "r2", "a", archive=b"other bytes")
    assert project.id == first_project.id and project.created_at == first_project.created_at
    assert project.updated_at == second.created_at > first.created_at
    assert store.project(project.id) == project
    assert second.id != first.id and second.archive_digest != first.archive_digest
    assert store.revisions(project.id) == [second, first]  # newest first
    assert store.revisions(project.id, "r1") == [first]
    assert store.revision(project.id) == second
    assert store.revision(project.id, "r1") == first
    assert [w.name for w in store.workflows_of(first.id)] == ["a", "b"]
    [a] = store.workflows_of(second.id)
    assert (a.name, a.revision_id, a.revision) == ("a", second.id, "r2")
    assert a.id not in {w.id for w in store.workflows_of(first.id)}  # a new id in each revision
    assert store.get_archive(first.archive_digest) == ARCHIVE


def test_a_reused_revision_name_stores_nothing(store: Store, other: Store) -> None:
    project, revision = push(store, "proj", "r1", "a")
    push(store, "elsewhere", "r1", "x")  # another project's r1 is no conflict
    listed = store.latest_workflows()
    new_bytes = b"never stored"
    with pytest.raises(RevisionExists) as info:
        push(other, "proj", "r1", "a", "b", archive=new_bytes)
    assert str(info.value) == 'Revision "r1" of project "proj" already exists'
    assert (info.value.project, info.value.revision) == ("proj", "r1")
    assert isinstance(info.value, DockerflowError)
    assert store.revisions(project.id) == [revision]
    assert store.project(project.id) == project  # updated_at unchanged
    assert [p.name for p in store.projects()] == ["proj", "elsewhere"]
    assert store.latest_workflows() == listed
    assert store.get_archive(hashlib.sha256(new_bytes).hexdigest()) is None
    assert [w.name for w in store.workflows_of(revision.id)] == ["a"]


def test_workflows_named_twice_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="named twice"):
        push(store, "proj", "r1", "a", "b", "a")
    assert store.live_project("proj") is None
    assert store.projects() == []


def test_concurrent_pushes_to_a_new_project_make_one_project(connect: Callable[[], Store]) -> None:
    stores = [connect() for _ in range(4)]
    pushed: list[tuple[ProjectRecord, RevisionRecord]] = []
    refused: list[RevisionExists] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2 * len(stores))

    def pusher(mine: Store, revision: str) -> None:
        try:
            start.wait()
            pushed.append(push(mine, "proj", revision, "a", archive=revision.encode()))
        except RevisionExists as exc:
            refused.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # every store pushes its own revision name, and "same" once: one of the latter wins
    threads = [threading.Thread(target=pusher, args=(mine, name))
               for n, mine in enumerate(stores) for name in (f"r{n}", "same")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(pushed) == len(stores) + 1 and len(refused) == len(stores) - 1
    assert len({project.id for project, _ in pushed}) == 1
    [project] = stores[0].projects()
    names = [r.name for r in stores[0].revisions(project.id)]
    assert sorted(names) == sorted([f"r{n}" for n in range(len(stores))] + ["same"])
    assert stores[0].project(project.id) == max((p for p, _ in pushed), key=lambda p: p.updated_at)


# -- deleting ----------------------------------------------------------------------------------
def test_deleting_a_project_frees_its_name(store: Store, other: Store) -> None:
    old, old_revision = push(store, "proj", "r1", "a")
    kept, _ = push(store, "kept", "r1", "k")
    deleted = other.delete_project(old.id)
    assert deleted is not None and deleted.id == old.id and deleted.deleted_at is not None
    assert deleted.deleted_at >= old.created_at
    assert (deleted.name, deleted.created_at, deleted.updated_at) == (old.name, old.created_at, old.updated_at)
    time.sleep(0.01)
    assert store.delete_project(old.id) == deleted  # unchanged: deleted once
    assert store.delete_project(old.id + 1000) is None
    assert store.project(old.id) == deleted
    assert store.live_project("proj") is None
    assert store.projects() == [kept]
    assert [w.name for w in store.latest_workflows()] == ["k"]
    # its revisions and workflows stay readable (attempts may point at them)
    assert store.revision(old.id) == old_revision
    [a] = store.workflows_of(old_revision.id)
    assert store.workflow_definition(a.id) == a
    # the name is free again: a new project
    new, revision = push(other, "proj", "r1", "a")
    assert new.id not in (old.id, kept.id) and new.deleted_at is None
    assert store.live_project("proj") == new
    assert store.revisions(new.id) == [revision]
    assert store.project(old.id) == deleted
    assert [p.id for p in store.projects()] == [kept.id, new.id]
    assert [(w.project_id, w.name) for w in store.latest_workflows()] == [(kept.id, "k"), (new.id, "a")]


# -- listing -----------------------------------------------------------------------------------
def test_projects_are_listed_by_id_with_paging_and_a_name_pattern(store: Store, other: Store) -> None:
    names = ["alpha", "beta", "Alphabet", "gamma_1", "gamma%2", "delta"]
    made = [push(store, name, "r1")[0] for name in names]
    ids = [p.id for p in made]
    assert other.projects() == made
    assert [p.id for p in other.projects(count=2)] == ids[:2]
    assert [p.id for p in other.projects(last_id=ids[1], count=3)] == ids[2:5]
    assert [p.id for p in other.projects(last_id=ids[-1])] == []
    assert [p.name for p in other.projects(name_pattern="lpha")] == ["alpha", "Alphabet"]
    assert [p.name for p in other.projects(name_pattern="Alpha")] == ["Alphabet"]  # case-sensitive
    assert [p.name for p in other.projects(name_pattern="a_")] == ["gamma_1"]  # no LIKE wildcards
    assert [p.name for p in other.projects(name_pattern="%")] == ["gamma%2"]
    assert [p.name for p in other.projects(name_pattern="a", last_id=ids[2], count=2)] == ["gamma_1", "gamma%2"]
    assert other.projects(name_pattern="zzz") == []
    assert other.projects(name_pattern="") == made
    other.delete_project(ids[0])
    assert [p.name for p in other.projects(name_pattern="lpha")] == ["Alphabet"]


def test_latest_workflows_are_those_of_each_live_projects_latest_revision(store: Store, other: Store) -> None:
    one, _ = push(store, "one", "r1", "daily", "hourly")
    two, _ = push(store, "two", "r1", "weekly")
    _, one_r2 = push(store, "one", "r2", "daily", "monthly")  # hourly is gone from one
    gone, _ = push(store, "gone", "r1", "daily")
    store.delete_project(gone.id)
    three, three_r1 = push(store, "three", "v1", "report_daily")
    latest = other.latest_workflows()
    assert [(w.project_id, w.revision, w.name) for w in latest] == [
        (two.id, "r1", "weekly"), (one.id, "r2", "daily"), (one.id, "r2", "monthly"),
        (three.id, "v1", "report_daily")]
    assert latest[1] == other.workflows_of(one_r2.id, "daily")[0]
    ids = [w.id for w in latest]
    assert ids == sorted(ids)
    # an older revision's definition is not listed, but still answers by id
    old = [w for w in other.workflows_of(other.revisions(one.id)[1].id)]
    assert [w.name for w in old] == ["daily", "hourly"]
    assert not {w.id for w in old} & set(ids)
    assert other.workflow_definition(old[1].id) == old[1]
    # ascending pages
    assert [w.id for w in other.latest_workflows(count=3)] == ids[:3]
    assert [w.id for w in other.latest_workflows(last_id=ids[2], count=3)] == ids[3:]
    assert other.latest_workflows(last_id=ids[-1]) == []
    # descending pages: last_id 0 starts from the end
    assert [w.id for w in other.latest_workflows(descending=True, count=3)] == ids[::-1][:3]
    assert [w.id for w in other.latest_workflows(descending=True, last_id=ids[1])] == [ids[0]]
    assert other.latest_workflows(descending=True, last_id=ids[0]) == []
    # patterns: of the workflow's name, or of the project's name too
    assert [w.name for w in other.latest_workflows(name_pattern="daily")] == ["daily", "report_daily"]
    assert other.latest_workflows(name_pattern="Daily") == []
    assert [w.name for w in other.latest_workflows(name_pattern="ne")] == []
    assert [w.name for w in other.latest_workflows(name_pattern="ne", search_project_name=True)] == [
        "daily", "monthly"]
    assert [w.name for w in other.latest_workflows(name_pattern="t", search_project_name=True)] == [
        "weekly", "monthly", "report_daily"]
    assert [w.name for w in other.latest_workflows(name_pattern="t", search_project_name=True,
                                                   descending=True, count=2)] == ["report_daily", "monthly"]
    assert [w.name for w in other.latest_workflows(name_pattern="ly", last_id=ids[1], count=1)] == ["monthly"]
    # a push of a new revision moves the project's listing to it
    _, three_v2 = push(store, "three", "v2", "report_daily")
    [moved] = other.latest_workflows(name_pattern="report")
    assert moved.revision_id == three_v2.id and moved.id not in ids
    assert three_r1.id != three_v2.id
