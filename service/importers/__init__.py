"""Imports of published event datasets (ACLED, UCDP GED): `flask --app service import`."""
