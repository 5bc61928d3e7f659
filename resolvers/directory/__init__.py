"""Organizations (facilities, laboratories, ministries) the gateway knows."""
