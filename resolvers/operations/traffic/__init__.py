"""Traffic per channel (messages per minute, error rate, latency) from stored timestamps."""
