"""What a notification is and who gets it: types, typed send, rendering, model events, the inbox and
the delivery policies (preferences, quiet hours, rate limits). The top of the flow: it calls dispatch."""
