"""Statements of the validation hot path, compiled once per process.

Django compiles a queryset to SQL on every execution. For the token look-up of
a validation (a join of token, policy and user) that compile cost 0.55 ms,
ten times the statement's own execution, and with the UPDATE and the audit
INSERT compiled the same way, compiling was the largest single cost of a
validation (profile in ``bench/validate.py``'s docstring). Django has no
statement cache, and the libraries that offer one cache *results*, which a
one-time code must never be served from. So:

- ``PreparedSelect`` compiles a queryset once per database alias with
  placeholder values, then runs the same SQL with new parameters and builds
  the model instances (and their ``select_related`` objects) exactly as
  Django's own iterable does, with the backend's converters.
- ``insert_returning_pk``, ``insert_together``, ``update_where`` and
  ``lock_row`` write plain single-table statements from the model's
  metadata, with each value prepared by its field (``get_db_prep_save``),
  so they are right on SQLite and PostgreSQL.
- ``update_then_insert`` writes a row (and makes more UPDATEs) only if a
  conditional UPDATE changed one (a code spent and its audit row; a push
  answered, its token's last use and the audit row): on PostgreSQL one
  statement, so one round trip and its own transaction, on SQLite a
  transaction of a statement each.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators


class _Slot:
    def __init__(self, name: str, field=None):
        self.name = name
        self.field = field  # prepares the value (None: a plain string)

    def prepare(self, values: dict[str, Any], connection) -> Any:
        value = values[self.name]
        if self.field is None:
            return value
        return self.field.get_db_prep_value(value, connection)


class PreparedSelect:
    """``PreparedSelect(build, "username")(username="alice")`` runs
    ``build(username=...)``'s SQL, compiled once, and returns its models.

    ``build`` takes the named parameters and returns a queryset that uses
    each of them once as an exact match: a plain string, or for a name given
    in ``typed`` (name -> model field, e.g. ``PushChallenge._meta.pk``) a
    value that field prepares (a UUID, say).
    """

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *names: str,
        typed: dict[str, Any] | None = None,
    ):
        self._build = build
        self._typed = typed or {}
        self._names = (*names, *self._typed)
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str) -> tuple:
        connection = connections[alias]
        # A unique stand-in per parameter, found again among the compiled
        # statement's parameters in the form its field prepared it.
        marks = {n: f"\x00tessera-slot:{n}\x00" for n in self._names}
        for name, field in self._typed.items():
            marks[name] = _stand_in(field)
        queryset = self._build(**marks).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        by_mark = {}
        for name in marks:
            slot = _Slot(name, self._typed.get(name))
            prepared = slot.prepare(marks, connection)
            by_mark[(type(prepared), prepared)] = slot
        slots = [_slot_or_value(by_mark, p) for p in params]
        if sum(isinstance(s, _Slot) for s in slots) != len(self._names):
            raise ValueError("each parameter must appear once, as an exact match")
        select, klass_info = compiler.select, compiler.klass_info
        fields = [s[0] for s in select[: compiler.col_count]]
        converters = list(compiler.get_converters(fields).items())
        first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1]
        init_list = [f[0].target.attname for f in select[first : last + 1]]
        populators = get_related_populators(klass_info, select, alias)
        return (
            sql,
            slots,
            converters,
            klass_info["model"],
            (first, last + 1),
            init_list,
            populators,
        )

    def __call__(self, alias: str = "default", **values: str) -> list[Model]:
        compiled = self._compiled.get(alias)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(alias, self._compile(alias))
        sql, slots, converters, model, (start, end), init_list, populators = compiled
        connection = connections[alias]
        params = [
            s.prepare(values, connection) if isinstance(s, _Slot) else s for s in slots
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        objects = []
        for row in map(list, rows):
            for pos, (convs, expression) in converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
            obj = model.from_db(alias, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects


def _stand_in(field) -> Any:
    if field.get_internal_type() == "UUIDField":
        return uuid.uuid4()
    if field.get_internal_type() == "DateTimeField":  # an instant no row has
        return datetime(1970, 1, 2, microsecond=secrets.randbelow(10**6), tzinfo=UTC)
    raise ValueError(f"no stand-in value for a {field.get_internal_type()}")


def _slot_or_value(by_mark: dict, param: Any) -> Any:
    """The slot a compiled parameter stands for, else the parameter itself.
    Compared by type and value, so 1 is never taken for True."""
    try:
        return by_mark.get((type(param), param), param)
    except TypeError:  # unhashable: never a stand-in
        return param


def _prep(model: type[Model], name: str, value: Any, connection) -> Any:
    if hasattr(value, "resolve_expression"):
        raise TypeError("expressions are not supported here; use the ORM")
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _insert_sql(connection, meta, columns: list[str], rows: int = 1) -> str:
    """``INSERT INTO table (columns) VALUES (%s, …), …`` for ``rows`` rows."""
    qn = connection.ops.quote_name
    names = ", ".join(qn(c) for c in columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # Only quoted names from the model are formatted in; values are parameters.
    sql = f"INSERT INTO {qn(meta.db_table)} ({names}) VALUES "  # noqa: S608
    return sql + ", ".join([row] * rows)


def insert_returning_pk(model: type[Model], values: dict[str, Any], alias="default"):
    """INSERT one row of ``model`` (field name -> value); return its pk."""
    connection = connections[alias]
    meta = model._meta
    columns = [meta.get_field(name).column for name in values]
    params = [_prep(model, name, value, connection) for name, value in values.items()]
    sql = _insert_sql(connection, meta, columns)
    sql += f" RETURNING {connection.ops.quote_name(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def insert_together(groups: list[list[Model]], alias: str = "default") -> None:
    """INSERT lists of unsaved instances (each list of one model; empty ones
    skipped), in the order given: every concrete field as the instance holds
    it (no ``save()`` signals, no ``pre_save``), an automatic primary key left
    to the database; the caller sets every value, as ``bulk_create`` would
    need too. On PostgreSQL one statement (each earlier INSERT in a WITH;
    foreign keys are checked at the statement's end, so a row may refer to
    one inserted before it), so one round trip; elsewhere one statement a
    list. Run it in a transaction when they must stand or fall together on
    every database."""
    connection = connections[alias]
    statements = [_insert_objects_sql(objs, connection) for objs in groups if objs]
    if connection.vendor == "postgresql" and len(statements) > 1:
        *first, (last, params) = statements
        ctes = ", ".join(f"i{n} AS ({sql})" for n, (sql, _) in enumerate(first))
        statements = [
            (f"WITH {ctes} {last}", [p for _, ps in first for p in ps] + params)
        ]
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _insert_objects_sql(objs: list[Model], connection) -> tuple[str, list]:
    meta = type(objs[0])._meta
    if any(type(obj)._meta is not meta for obj in objs):
        raise TypeError("instances of one model only")
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and getattr(objs[0], f.attname) is None)
    ]
    sql = _insert_sql(connection, meta, [f.column for f in fields], len(objs))
    params = [
        f.get_db_prep_save(getattr(obj, f.attname), connection)
        for obj in objs
        for f in fields
    ]
    return sql, params


def lock_row(model: type[Model], pk: Any, alias: str = "default") -> None:
    """``SELECT … FOR UPDATE`` of one row by primary key, in the caller's
    transaction; nothing where the database has no row locks (SQLite's
    writing transaction holds the whole database)."""
    connection = connections[alias]
    if not connection.features.has_select_for_update:
        return
    qn, meta = connection.ops.quote_name, model._meta
    # Only quoted names from the model are formatted in; the key is a parameter.
    sql = (
        f"SELECT 1 FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s FOR UPDATE"  # noqa: S608
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [meta.pk.get_db_prep_value(pk, connection)])


def update_where(
    model: type[Model],
    *,
    set_values: dict[str, Any] | None = None,
    increment: dict[str, int] | None = None,
    where: dict[str, tuple[str, Any]],
    returning: tuple[str, ...] = (),
    alias: str = "default",
):
    """``UPDATE`` rows of ``model``: ``set_values`` (field -> value) and
    ``increment`` (field -> amount added) where every condition (field ->
    (operator, value), one of ``= < <= > >=``, or ``("is", None)``) holds.

    Returns how many rows changed, or with ``returning`` (field names) the
    changed rows' new values of those fields.
    """
    connection = connections[alias]
    sql, params = _update_sql(connection, model, set_values, increment, where)
    if returning:
        qn, meta = connection.ops.quote_name, model._meta
        sql += (
            f" RETURNING {', '.join(qn(meta.get_field(n).column) for n in returning)}"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if returning else cursor.rowcount


def update_then_insert(
    model: type[Model],
    *,
    set_values: dict[str, Any],
    where: dict[str, tuple[str, Any]],
    insert: tuple[type[Model], dict[str, Any]],
    also: list[tuple[type[Model], dict[str, Any], dict[str, tuple[str, Any]]]] = (),
    alias: str = "default",
) -> bool:
    """``update_where(model, set_values=..., where=...)`` and, only if it
    changed a row, each of ``also`` (model, set_values, where: more UPDATEs)
    and one row of ``insert`` (a model, field name -> value), all or
    nothing. Returns whether the first UPDATE changed a row.

    On PostgreSQL this is one statement (the UPDATEs in a WITH, the later
    ones and the INSERT conditional on the first's result), so outside a
    transaction it is one round trip that commits them all; elsewhere an
    atomic block of a statement each.
    """
    connection = connections[alias]
    target, values = insert
    if connection.vendor != "postgresql":
        with transaction.atomic(using=alias, savepoint=False):
            rows = update_where(model, set_values=set_values, where=where, alias=alias)
            changed = rows > 0
            if changed:
                for other, other_values, other_where in also:
                    update_where(
                        other, set_values=other_values, where=other_where, alias=alias
                    )
                insert_returning_pk(target, values, alias)
            return changed
    update, params = _update_sql(connection, model, set_values, None, where)
    ctes = [f"changed AS ({update} RETURNING 1)"]
    for n, (other, other_values, other_where) in enumerate(also):
        sql, other_params = _update_sql(
            connection, other, other_values, None, other_where
        )
        ctes.append(f"u{n} AS ({sql} AND EXISTS (SELECT 1 FROM changed))")  # noqa: S608
        params += other_params
    qn, meta = connection.ops.quote_name, target._meta
    fields = [meta.get_field(name) for name in values]
    columns = ", ".join(qn(f.column) for f in fields)
    # Typed: a SELECT list's parameters get no type from the INSERT's columns.
    typed = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    # Only quoted names and column types from the models are formatted in.
    sql = f"WITH {', '.join(ctes)} "
    sql += f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
    sql += f"SELECT {typed} WHERE EXISTS (SELECT 1 FROM changed)"  # noqa: S608
    params += [_prep(target, name, v, connection) for name, v in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


def _update_sql(connection, model, set_values, increment, where) -> tuple[str, list]:
    qn = connection.ops.quote_name
    meta = model._meta

    def col(name: str) -> str:
        return qn(meta.get_field(name).column)

    def named(values: dict) -> dict:  # "pk" as the ORM spells it
        return {meta.pk.name if n == "pk" else n: v for n, v in values.items()}

    set_values, increment = named(set_values or {}), named(increment or {})
    where = named(where)
    sets = [f"{col(n)} = %s" for n in set_values]
    sets += [f"{col(n)} = {col(n)} + %s" for n in increment]
    params = [_prep(model, n, v, connection) for n, v in set_values.items()]
    params += [int(v) for v in increment.values()]
    conditions = []
    for name, (op, value) in where.items():
        if op == "is" and value is None:
            conditions.append(f"{col(name)} IS NULL")
            continue
        if op not in ("=", "<", "<=", ">", ">="):
            raise ValueError(f"operator {op!r}")
        conditions.append(f"{col(name)} {op} %s")
        params.append(meta.get_field(name).get_db_prep_value(value, connection))
    # Only quoted names from the model are formatted in; values are parameters.
    sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)}"  # noqa: S608
    return sql + f" WHERE {' AND '.join(conditions)}", params
