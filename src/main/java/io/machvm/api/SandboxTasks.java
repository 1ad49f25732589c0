package io.machvm.api;

import io.machvm.service.TaskInfo;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import io.machvm.vm.TaskImage;
import java.io.IOException;
import java.io.InputStream;

/**
 * The two other ways {@code POST /tasks} and {@code PUT /tasks/{task}} make a task: a fork of a parent
 * ({@code {"parent": …}}) and a restored snapshot image (a body of {@value TaskImage#MEDIA_TYPE}).
 */
final class SandboxTasks {
    private SandboxTasks() {
    }

    /**
     * Forks {@code parent} into a new task ({@code childId} null: a minted id). Flavor and error model come from the
     * parent: the settings may repeat them but not differ.
     */
    static TaskInfo fork(VmService service, String parent, TaskSpec spec, String childId) {
        if (childId != null) {
            // A malformed or taken id is answered before the settings are compared with the parent's (the
            // registry's reservation, taken before the fork, then covers a create that races this one). Which ids
            // the caller may use, an admin's tenant~id among them, is the registry's to say.
            service.checkNewTaskId(childId);
        }
        if (spec.flavor() != null || spec.errors() != null) {
            TaskInfo p = find(service, parent);
            if (p != null) { // an unknown parent is answered by task_fork itself
                if (spec.flavor() != null && spec.flavor() != p.flavor()) {
                    throw ApiProblem.invalidArgument("flavor " + Texts.quote(spec.flavor().wireName())
                            + " differs from the parent's (" + p.flavor().wireName()
                            + "): a forked task has its parent's flavor; leave flavor out");
                }
                if (spec.errors() != null && spec.errors() != p.errors()) {
                    throw ApiProblem.invalidArgument("errors " + Texts.quote(spec.errors().wireName())
                            + " differs from the parent's (" + p.errors().wireName()
                            + "): a forked task has its parent's error model; leave errors out");
                }
            }
        }
        return service.forkTask(parent, childId, spec.name());
    }

    /** Restores the image in the request body into a new task ({@code id} null: a minted id). */
    static TaskInfo restore(VmService service, InputStream body, String id) {
        if (id != null) {
            // Refuse before reading what may be gigabytes of image.
            service.checkNewTaskId(id);
        }
        try {
            return service.restoreTask(body, id);
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    private static TaskInfo find(VmService service, String id) {
        try {
            return service.describe(id);
        } catch (KernException noSuchTask) {
            return null;
        }
    }

}
