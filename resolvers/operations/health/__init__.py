"""The gateway's health as an operator sees it (the console's health page)."""
