package nodeagent

// RunningPod exposes the status the agent posts for a started pod to the package's tests.
var RunningPod = runningPod
