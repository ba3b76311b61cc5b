"""Training, one concept per module; a task says what it trains, the rest is the same for all.

- :mod:`~rnnreport.training.records`: the config protocol, an epoch's and a trained model's
  metrics, the errors a training ends with, the device and threads;
- :mod:`~rnnreport.training.store`: the cache: the key, checked atomic files, the lock,
  reading and writing entries;
- :mod:`~rnnreport.training.fitting`: what every training goes through: the cache looked up,
  a fresh or resumed run, a checkpoint after every epoch, the entry stored;
- :mod:`~rnnreport.training.mnist` and :mod:`~rnnreport.training.counting`: the tasks (the
  MNIST classifiers, the counters), each its data, fit, evaluation, cache key and the code
  its fingerprint covers;
- :mod:`~rnnreport.training.engine`: one queue of models of any task, trained on a Dask
  cluster and stored by the client alone; :mod:`~rnnreport.training.cluster`: that cluster,
  the user's or one started on this machine;
- :mod:`~rnnreport.training.progress`: what the terminal shows, and the estimate of the time
  left.

The store, the fitting, the engine and the cluster never look at the task.
"""
