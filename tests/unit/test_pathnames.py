"""File names made from task names stay short, unique and recognisable."""

from dockerflow.pathnames import MAX_BYTES, task_file_name


def test_short_names_are_kept():
    assert task_file_name("+wf+a+b") == "+wf+a+b"
    assert task_file_name("+wf+a/b") == "+wf+a_b"


def test_long_names_are_cut_with_a_hash_and_stay_unique():
    deep = "".join(f"+group{i}" for i in range(300))
    other = deep[:-1] + "x"
    a, b = task_file_name(deep + "+leaf"), task_file_name(other + "+leaf")
    assert a != b
    assert len(a.encode()) <= MAX_BYTES and a.endswith("+leaf")
    assert task_file_name(deep + "+leaf") == a  # stable


def test_multibyte_names_fit_in_bytes():
    name = "+" + "é" * 400
    assert len(task_file_name(name).encode()) <= MAX_BYTES
