"""The parameters of migration_check as the module passes them to ``_migration_check.run``, every option at its
default: unit tests call ``run`` directly with the ones they change."""

from __future__ import annotations


def check_params(path=None, **options) -> dict:
    params = dict(
        path=path,
        sql=None,
        dialect="postgresql",
        fail_on_incompatible=True,
        waivers=[],
        schema_dsn=None,
        schema_password=None,
        schema_connect_timeout=10,
        small_table_rows=10000,
        on_undetermined="block",
        pending=None,
        unapplied=[],
        history=True,
    )
    params.update(options)
    return params
