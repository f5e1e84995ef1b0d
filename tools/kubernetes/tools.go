//go:build tools

// Package tools pins the commands this module builds: the control plane (kube-apiserver, kube-controller-manager,
// kube-scheduler) and the node agent (kubelet), each with go build k8s.io/kubernetes/cmd/<name>.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
