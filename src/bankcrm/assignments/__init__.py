"""Who looks after which customer: reassignment by team leads and branch managers, its history, RM workload."""
