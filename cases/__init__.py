"""The case lifecycle's rules as pure functions: states, actions, deadlines, the working calendar, timers.

No Kafka, HTTP or database here: agents and routes call `cases.lifecycle.next_state` and store what it gives.
"""
