"""credit-crm domain package: plain Python + pandas, no Dagster imports."""

__version__ = "0.1.0"
