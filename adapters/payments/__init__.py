"""Payment provider adapters: M-Pesa, MTN MoMo, Orange Money and Stripe, side by side."""
