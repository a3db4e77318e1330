package main

import "gatehouse/internal/app"

// dashboardFactory builds the admin dashboard served at /admin/.
var dashboardFactory app.DashboardFactory
