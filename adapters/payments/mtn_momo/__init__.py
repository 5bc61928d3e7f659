"""mtn_momo payment provider adapter; see the package modules."""
