package ratelimit

// BatchWaiting returns how many of l's decisions wait in its next batch.
func BatchWaiting(l *Limiter) int { return l.calls.batches.Waiting() }
