// Models module (see README).
