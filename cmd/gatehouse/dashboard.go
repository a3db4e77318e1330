package main

import (
	"net/http"

	"gatehouse/internal/app"
	"gatehouse/internal/dashboard"
)

// dashboardFactory builds the admin dashboard served at /admin/.
var dashboardFactory app.DashboardFactory = func(a *app.App) (http.Handler, error) {
	return dashboard.New(dashboard.Deps{
		Config: a.Config.Dashboard, DB: a.DB, Service: a.Service, Auth: a.Auth, Logger: a.Logger,
	})
}
