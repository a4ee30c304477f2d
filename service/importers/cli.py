"""`flask --app service import --format acled|ucdp FILE.csv`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from .runner import DATASETS, run_import


def register(app: Flask) -> None:
    @app.cli.command("import")
    @click.option(
        "--format",
        "fmt",
        required=True,
        type=click.Choice(sorted(DATASETS)),
        help="acled: an ACLED export; ucdp: a UCDP GED export.",
    )
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def import_command(fmt: str, file: Path):
        """Import an ACLED or UCDP GED CSV export; importing the same file again changes nothing.

        Rows that break the rules are reported on stderr (data row, counted from 1 after the
        header, and the file line where the row starts) and the others go in. Exits 0 when the
        file was processed, even with rejected rows; 1 when it cannot be read or its header
        lacks a required column.
        """
        dataset = DATASETS[fmt]

        def echo(message: str) -> None:
            click.echo(message, err=True)

        report = run_import(dataset, file)
        for row_no, line, row_id, reason in sorted(report.warnings):
            echo(f"warning: data row {row_no} (line {line}) {row_id}: {reason}")
        for row_no, line, row_id, reason in sorted(report.rejected):
            ident = f" {row_id}" if row_id else ""
            echo(f"rejected: data row {row_no} (line {line}){ident}: {reason}")
        echo(
            f"{dataset.label} import of {file.name}: {report.rows} data rows, "
            f"{report.inserted} inserted, {report.unchanged} unchanged, "
            f"{len(report.rejected)} rejected"
        )
        sys.stderr.flush()
