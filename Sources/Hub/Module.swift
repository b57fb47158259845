// Hub module (see README).
