"""`contact-center doctor`: what a deployment needs, checked, with what to fix.

`facts` gathers what is true of this machine and its Asterisk (all the I/O); `checks` turns
those facts into findings (pure functions, one per concern); the CLI prints them in Russian.
"""
