"""Patient uses of messaging: appointment reminders, lab-result-ready, refill reminders."""
