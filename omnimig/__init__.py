"""omnimig: lint, convert, sample and upload Akinon (Omnitron) data-migration files."""

__version__ = "0.1.0"
