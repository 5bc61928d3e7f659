"""orange_money payment provider adapter; see the package modules."""
