"""Concurrency primitives on shared memory, as in Aeron (agrona) concurrent/."""
