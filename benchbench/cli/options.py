"""Command-line values checked as click reads them, before anything else runs."""

from __future__ import annotations

import click


def names_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str] | None:
    """--models/--tasks: comma-separated names, the option repeatable (the union, in order);
    None when not given. An empty name selects nothing, so it is refused, not read as "all"."""
    if not values:
        return None
    what = (param.name or "name").rstrip("s")
    names = [name.strip() for value in values for name in value.split(",")]
    if not all(names):
        raise click.BadParameter(f"{','.join(values)!r} names an empty {what}; give names from the suite, or leave "
                                 f"the option out to run every {what}")
    return list(dict.fromkeys(names))


def nonempty_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A value that means nothing when empty (an address): refused, not read as "not given"."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty; give a value, or leave the option out")
    return value
