from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dltheory.lab.store import STORE_NAME, Store, unit_key


def test_put_get_count_rows(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        assert s.path == tmp_path / STORE_NAME
        key = s.put("c", {"a": 1, "b": [1, 2]}, 3, "0.1", {"x": 1.5}, 0.25)
        assert key == unit_key("c", {"b": [1, 2], "a": 1}, 3, "0.1")
        row = s.get(key)
        assert row is not None
        assert row["metrics"] == {"x": 1.5} and row["config"] == {"a": 1, "b": [1, 2]}
        assert row["seed"] == 3 and row["claim"] == "c" and row["seconds"] == 0.25
        assert s.get("nope") is None
        # duplicate put is ignored (first value kept)
        assert s.put("c", {"a": 1, "b": [1, 2]}, 3, "0.1", {"x": 9.0}, 1.0) == key
        assert s.count() == 1 and s.count("c") == 1 and s.count("other") == 0
        s.put("c", {"a": 2}, 3, "0.1", {"x": 2.0}, 0.1)
        assert [r["metrics"]["x"] for r in s.rows("c")] == [1.5, 2.0]
    with Store(tmp_path / STORE_NAME) as s:  # reopen
        assert s.count() == 2


def test_key_depends_on_everything() -> None:
    base = unit_key("c", {"a": 1}, 0, "1")
    assert (
        len(
            {
                base,
                unit_key("d", {"a": 1}, 0, "1"),
                unit_key("c", {"a": 2}, 0, "1"),
                unit_key("c", {"a": 1}, 1, "1"),
                unit_key("c", {"a": 1}, 0, "2"),
            }
        )
        == 5
    )


def test_foreign_sqlite_rejected_untouched(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (name TEXT, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('app', 'other')")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match="is not a dltheory results store"):
        Store(path)
    assert path.read_bytes() == before

    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(ValueError, match="store: .*other.sqlite"):
        Store(other)
    assert other.read_bytes() == before


@pytest.mark.parametrize(
    "content", [b"this is not a database at all\n" * 40, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_garbage_rejected_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / STORE_NAME
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a dltheory results store"):
        Store(tmp_path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE_NAME]


def test_sqlite_without_tables_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 0")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    with Store(path) as s:
        s.put("c", {}, 0, "v", {"x": 1}, 0.0)
        assert s.count() == 1


def _writer(directory: str, offset: int, n: int) -> None:
    """Write n units, half of them shared with the other writer, committing one at a time."""
    with Store(Path(directory)) as s:
        for i in range(n):
            seed = i if i % 2 == 0 else offset + i  # even seeds collide across writers
            s.put("c", {"i": i % 50}, seed, "0.1", {"x": float(seed)}, 0.0)


@pytest.mark.subprocess
def test_two_processes_writing_one_store(tmp_path: Path) -> None:
    """Two real processes writing the same store at once: no lost, duplicated or corrupt rows."""
    import multiprocessing as mp
    import sqlite3

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), off, 200)) for off in (1000, 2000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with Store(tmp_path) as s:
        keys = {r["seed"] for r in s.rows("c")}
        assert s.count("c") == 100 + 2 * 100  # 100 shared (even) + 100 odd per writer
        assert len(keys) == s.count("c")
    con = sqlite3.connect(tmp_path / STORE_NAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
