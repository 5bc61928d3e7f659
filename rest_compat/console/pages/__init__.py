"""The console's pages: one module per page, each listing its ``PAGES``."""
