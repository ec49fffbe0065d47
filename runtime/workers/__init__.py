"""Where a run trains: a thread of the server, a worker process or a Ray actor (``backends``).
``processes`` is the server's side of a worker process (the pool, the supervising thread),
``worker`` the child's, ``remote`` what passes between them (and between Ray and the server);
``allocator`` shares the CPU's threads between the runs.
"""
