"""Alembic environment: the schema is applied to DATABASE_URL."""

from alembic import context

from service import config as service_config
from service.db import make_engine
from service.models import Base

target_metadata = Base.metadata

# SQLite's FTS5 index of violation_search: a virtual table with shadow tables and triggers that
# autogenerate cannot model; the migration that creates it owns it.
_FTS_TABLE = "violation_fts"


def _include_name(name, type_, parent_names) -> bool:
    return not (type_ == "table" and name and name.startswith(_FTS_TABLE))


def _include_object_for(dialect: str):
    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        # Indexes declared for one backend only (the GIN index of full-text search).
        if type_ == "index" and not reflected:
            only = obj.info.get("only_dialect")
            if only is not None and only != dialect:
                return False
        return True

    return include_object


def _url() -> str:
    configured = context.config.get_main_option("sqlalchemy.url")
    return configured or service_config.from_env()["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    if url.startswith("sqlite"):
        from pathlib import Path

        db_path = url.removeprefix("sqlite:///")
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_name=_include_name,
            include_object=_include_object_for(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
