package main

import (
	"gatehouse/internal/app"
	"gatehouse/internal/dashboard"
)

// dashboardFactory builds the admin dashboard served at /admin/.
var dashboardFactory app.DashboardFactory = dashboard.New
