"""Published positions and month-end AUM of each customer, and the customer's transactions from the lake."""
