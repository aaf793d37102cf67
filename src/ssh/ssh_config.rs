//! ~/.ssh/config lookups: HostName, User, Port, IdentityFile, ProxyJump (not implemented yet).
