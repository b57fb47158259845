// Media module (see README).
