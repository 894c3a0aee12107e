"""Compares two tracking databases' schemas table by table, column by column, index by index
(SQLAlchemy's inspector: columns with type, nullability and default; primary keys; foreign keys;
unique constraints; indexes; check constraints), plus the alembic_version row, and for SQLite the
CREATE statements themselves (line by line, in any order). Usage: sql_schema_compare.py REFERENCE_URI CANDIDATE_URI.
Prints one line per difference and exits 1 when there is any; prints the counts and OK otherwise."""

import sys

import sqlalchemy as sa


def describe(uri):
    eng = sa.create_engine(uri)
    insp = sa.inspect(eng)
    out = {}
    for t in sorted(insp.get_table_names()):
        cols = [
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")), bool(c.get("autoincrement")) if c.get("autoincrement") is True else None)
            for c in insp.get_columns(t)
        ]
        idx = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)
        )
        pk = insp.get_pk_constraint(t)
        fks = sorted(
            (f.get("name") or "", tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]), str(sorted((f.get("options") or {}).items())))
            for f in insp.get_foreign_keys(t)
        )
        uqs = sorted((u.get("name") or "", tuple(u["column_names"])) for u in insp.get_unique_constraints(t))
        try:
            checks = sorted((c.get("name") or "", c["sqltext"]) for c in insp.get_check_constraints(t))
        except NotImplementedError:
            checks = []
        out[t] = {
            "columns": cols,
            "indexes": idx,
            "primary key": (pk.get("name"), tuple(pk["constrained_columns"])),
            "foreign keys": fks,
            "unique constraints": uqs,
            "check constraints": checks,
        }
    with eng.connect() as c:
        version = [r[0] for r in c.execute(sa.text("select version_num from alembic_version"))]
        raw = None
        if eng.dialect.name == "sqlite":
            # Each CREATE statement as its set of lines: mlflow db upgrade itself writes the
            # constraints of a table rebuilt by a batch migration in varying order from run to run.
            raw = [(r[0], r[1], r[2], tuple(sorted(l.strip().rstrip(",") for l in r[3].splitlines())))
                   for r in c.execute(sa.text(
                "select type, name, tbl_name, sql from sqlite_master where sql is not null order by name"))]
    eng.dispose()
    return out, version, raw


def main():
    ref, ref_version, ref_raw = describe(sys.argv[1])
    got, got_version, got_raw = describe(sys.argv[2])
    diffs = []
    if ref_version != got_version:
        diffs.append(f"alembic_version: {ref_version} != {got_version}")
    for t in sorted(set(ref) | set(got)):
        if t not in got:
            diffs.append(f"table {t}: missing")
            continue
        if t not in ref:
            diffs.append(f"table {t}: extra")
            continue
        for part in ref[t]:
            if ref[t][part] != got[t][part]:
                diffs.append(f"table {t} {part}: expected {ref[t][part]}, got {got[t][part]}")
    if ref_raw is not None and ref_raw != got_raw:
        a, b = set(ref_raw), set(got_raw)
        for x in sorted(a - b):
            diffs.append(f"sqlite_master: missing {x[0]} {x[1]}")
        for x in sorted(b - a):
            diffs.append(f"sqlite_master: extra or different {x[0]} {x[1]}")
    for d in diffs:
        print(d)
    if diffs:
        sys.exit(1)
    ncols = sum(len(v["columns"]) for v in ref.values())
    nidx = sum(len(v["indexes"]) for v in ref.values())
    print(f"{len(ref)} tables, {ncols} columns, {nidx} indexes identical; alembic_version {ref_version}")
    print("OK")


if __name__ == "__main__":
    main()
