"""工作队列 (work queues): GET /api/v1/queues/{name}, the cases waiting for the caller, paged."""
