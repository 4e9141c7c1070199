"""Who people are: the directories that say which groups a user belongs to.

A caller's groups come from their token when it carries them; otherwise, and for the admin
commands that act as someone (`orgkb search --as`, `orgkb access`), from the directory the
`[identity]` config names: the system's user database or an LDAP / Active Directory server.
"""
